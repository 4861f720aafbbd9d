-- The whole answer is a word: "APPROVED\n".
core.lead.setstatus(inid, data:match("%a+"))
