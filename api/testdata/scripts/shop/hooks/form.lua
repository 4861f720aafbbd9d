-- Form orders: order=A1&phone=7999…, echoed back as text with a header.
local id = core.lead.add{ key = req.form.order, fields = { phone = req.form.phone } }
return "lead " .. id, 201, { ["X-Lead"] = id }
