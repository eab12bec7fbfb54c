-- 0004: PLACEHOLDER on branch groupadmin only. Version 0004 belongs to
-- another branch of issue #15 (0004 presence and typing, 0005 read
-- receipts and blocking); the numbering must run without gaps, so this
-- empty script stands in for it here. DELETE THIS FILE when merging: the
-- real 0004 script replaces it.
SELECT 1;
