-- A hook with a bug: raises on line 3.
local t = nil
return t.field
