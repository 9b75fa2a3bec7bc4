-- Admin rights live with the account (A5): granted at start-up to an account that already
-- exists and is named in EASEL_ADMINS, or by `server admin grant NAME`; never by signing up
-- with a listed name.
ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0;
-- Sign-in sessions started before this moment (ms) are void: "sign out everywhere" and a
-- password change move it to now, which ends every other session on every instance.
ALTER TABLE users ADD COLUMN sessions_from BIGINT NOT NULL DEFAULT 0;
-- When each name in EASEL_ADMINS was first seen listed: the start-up grant applies only to
-- an account created before then, so nobody becomes admin by signing up with a listed name
-- that had no account yet. A revocation sets it to 0, so a restart does not grant it again.
CREATE TABLE admin_listing (
    username TEXT PRIMARY KEY,
    first_listed_at BIGINT NOT NULL
);
