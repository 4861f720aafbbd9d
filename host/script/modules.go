package script

// Run is what the modules of one run act on.
type Run struct {
	// Script is the file that runs, for messages and the history's "by".
	Script string
	// Log receives core.log and print output; nil drops it.
	Log func(kind, msg string)
}

func (r *Run) log(kind, msg string) {
	if r.Log != nil {
		r.Log(kind, msg)
	}
}
