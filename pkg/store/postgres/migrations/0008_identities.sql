-- 0008: bring your own identity (issue #16): the link of an external
-- identity provider's user (issuer, subject) to a user of this service,
-- created the first time a token of the provider names the subject. The
-- primary key makes two first requests at once create one link: the loser
-- of the race gets a unique violation and reads the winner's link.
--
-- Scale path (Citus): distributed by subject, looked up by (issuer,
-- subject) only.
CREATE TABLE identities (
	issuer     text COLLATE "C" NOT NULL,
	subject    text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	created_at timestamptz      NOT NULL,
	CONSTRAINT identities_pkey PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_user ON identities (user_id);
