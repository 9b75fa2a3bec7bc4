-- Admin rights live with the account (A5): granted at start-up to an account that already
-- exists and is named in EASEL_ADMINS, or by `server admin grant NAME`; never by signing up
-- with a listed name.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
-- Sign-in sessions started before this moment (ms) are void: "sign out everywhere" and a
-- password change move it to now, which ends every other session on every instance.
ALTER TABLE users ADD COLUMN sessions_from BIGINT NOT NULL DEFAULT 0;
