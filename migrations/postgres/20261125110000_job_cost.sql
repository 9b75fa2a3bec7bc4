-- What each generation cost, in millionths of a US dollar (NULL: unknown or not charged).
ALTER TABLE jobs ADD COLUMN cost_usd_micros BIGINT;
