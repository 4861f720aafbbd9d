-- The partner wants {"auth": "K", "orders": [9001, 9002]} as JSON.
local orders = {}
for _, id in ipairs(idl) do
  orders[#orders + 1] = tonumber(ide[id])
end
request.body = json.encode({ auth = "K", orders = orders })
request.headers["Content-Type"] = "application/json"
request.fields = {}
