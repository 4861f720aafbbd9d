-- {"id": "P-1"} taken; {"error": "duplicate"} → reason 7; else retry.
if type(data) == "table" and data.id then return data.id end
if type(data) == "table" and data.error == "duplicate" then return -7 end
return nil
