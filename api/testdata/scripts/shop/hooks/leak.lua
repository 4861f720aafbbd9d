-- A hook that raises with what must not reach its caller: a phone and a
-- key in its message, or (?as=table) a table, whose text is an address.
if req.query.as == "table" then error({}) end
error("the partner said no to +7 (999) 000-11-22, api_key=SECRET")
