-- The answer is keyed by the CRM's order id; e2i answers "55501" and 55501
-- alike. setstc recognises the status word and keeps it in the comment;
-- the CRM's own comment follows it.
for key, order in pairs(data) do
  local id = e2i[key]
  if id then
    local ok = core.lead.setstc(id, order.status)
    if ok and order.comment and order.comment ~= "" then
      core.lead.edit(id, { comment = order.status .. ": " .. order.comment })
    end
  end
end
