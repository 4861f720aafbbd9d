-- Reserved: version 2 is the nodes table (issue 15, another branch).
-- This empty step only keeps the versions contiguous on the claim
-- branch; the real 002 replaces it when both are merged.
SELECT 1;
