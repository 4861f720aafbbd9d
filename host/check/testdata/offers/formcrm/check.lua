-- 9001=approved&9002=trash
for ext, state in pairs(data) do
  core.lead.setstatus(e2i[ext], state)
end
