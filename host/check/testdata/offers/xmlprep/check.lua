-- <orders><order id="9001"><state>approved</state></order>…</orders>
local list = data.orders.order
if list["@id"] then list = { list } end   -- one order is not an array
for _, o in ipairs(list) do
  core.lead.setstatus(e2i[o["@id"]], o.state)
end
