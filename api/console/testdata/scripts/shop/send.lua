-- The partner's id, from its JSON reply.
return data.id
