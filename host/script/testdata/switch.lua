-- The seed's plain handler: a switch over the partner's statuses.
for _, d in ipairs(data) do
  local oid = e2i[d.id] -- our id by theirs
  if d.status == "accept" then
    core.lead.edit(oid, { accept = 1 })
  elseif d.status == "cancel" then
    core.lead.edit(oid, { status = 5 })
  elseif d.status == "trash" then
    core.lead.edit(oid, { status = 5, reason = 6 })
  end
end
