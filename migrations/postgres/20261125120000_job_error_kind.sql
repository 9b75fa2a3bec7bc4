-- Why a job failed, as a stable code for operators and the admin view
-- (content_policy, rate_limited, quota_exhausted, unauthorized, server_error, network, timeout, no_image, bad_response).
ALTER TABLE jobs ADD COLUMN error_kind TEXT;
