-- The seed's finance handler: a first deposit approves, with the payout.
for _, d in ipairs(data) do
  local oid = e2i[d.id]
  if oid then
    if d.ftd then
      core.lead.edit(oid, { accept = 1, comment = d.status, cash = { pay = d.payout, cc = d.currency } })
    else
      core.lead.setstc(oid, d.status)
    end
  end
end
