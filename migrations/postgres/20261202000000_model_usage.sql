-- The chat model's ledger: one row per call, with the tokens it used (as the server reported
-- them, or estimated when it did not: estimated = 1) and their cost. Token budgets are counted
-- from here, and the cost joins the month's spend. No thread key: deleting a thread keeps
-- what its replies cost.
CREATE TABLE model_usage (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    estimated BIGINT NOT NULL DEFAULT 0,
    cost_usd_micros BIGINT NOT NULL DEFAULT 0,
    exempt BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX model_usage_by_user_at ON model_usage (user_id, at_ms);
CREATE INDEX model_usage_by_at ON model_usage (at_ms);
