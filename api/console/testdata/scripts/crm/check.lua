-- [{"id": "X1", "status": "approved"}]
for _, row in ipairs(data) do
  core.log("partner says " .. row.id .. " is " .. row.status)
  core.lead.setstatus(e2i[row.id], row.status)
end
