-- 0010: the idempotency rule of messages is room-scoped (issue #17): a
-- client_msg_id is unique per (room_id, sender, client_msg_id), not per
-- (sender, client_msg_id). A client's retry is always in the same room, so
-- a repeated client_msg_id from the same user in the same room is still the
-- same message; the same client_msg_id in another room is another message.
--
-- Scale path (Citus): the rule now leads with the distribution column
-- room_id, so it is enforced inside one shard; the lookup table of
-- (sender, client_msg_id) that 0001 foresaw is no longer needed.
-- MessageByClientID reads by (room_id, sender, client_msg_id).
ALTER TABLE messages DROP CONSTRAINT messages_sender_client_msg_id_key;
ALTER TABLE messages ADD CONSTRAINT messages_room_id_sender_client_msg_id_key
	UNIQUE (room_id, sender, client_msg_id);
