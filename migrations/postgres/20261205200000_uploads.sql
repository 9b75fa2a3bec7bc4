-- Pictures users send (issue 13): what an image row holds, so the gallery lists made and
-- sent pictures and never a mask (the area to change, painted in the browser).
ALTER TABLE images ADD COLUMN kind TEXT NOT NULL DEFAULT 'generated';
