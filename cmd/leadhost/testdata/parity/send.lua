-- The partner answers {"id": N} for an order it took.
if type(data) == "table" and data.id then
  return data.id
end
return nil
