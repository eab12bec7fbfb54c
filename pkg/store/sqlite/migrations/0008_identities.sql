-- 0008: bring your own identity (issue #16): the link of an external
-- identity provider's user (issuer, subject) to a user of this service,
-- created the first time a token of the provider names the subject. The
-- primary key makes two first requests at once create one link: the loser
-- of the race gets a unique violation and reads the winner's link.
CREATE TABLE identities (
	issuer     TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (issuer, subject)
) STRICT, WITHOUT ROWID;
CREATE INDEX identities_user ON identities (user_id);
