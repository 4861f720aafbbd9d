for _, d in ipairs(data) do core.lead.setstc(e2i[d.id], d.status) end
