-- Rows {uid, id, stage, status, phase}. stage is the network's verdict;
-- status refines it on the 1–12 scale we share.
for _, row in ipairs(data) do
  local id = e2i[row.id]
  if id then
    local status = tonumber(row.status)
    if row.stage == "approve" then
      if ids[id] < 6 then
        core.lead.approve(id, row.phase)
      elseif status and status > ids[id] then
        core.lead.edit(id, { status = status })   -- packing → sent → paid …
      end
    elseif row.stage == "cancel" then
      core.lead.edit(id, { status = 5, comment = row.phase })
    elseif row.stage == "trash" then
      core.lead.edit(id, { status = 5, reason = 6, comment = row.phase })
    elseif row.stage == "hold" then
      core.lead.edit(id, { status = 4 })
    elseif status == 3 then
      core.lead.edit(id, { status = 3, comment = row.phase })   -- call back
    end
  end
end
