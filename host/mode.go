package host

import (
	"fmt"
	"strings"
)

// Mode is a status-check mode (SPEC §3): which leads a run asks about,
// and whether it asks by ID lists or by date ranges. Text from a person
// (a flag, a query) becomes a Mode through ParseMode, once.
type Mode string

// The three check modes.
const (
	ModeProcessing Mode = "processing" // statuses 2, 3, 4, by ID lists
	ModeAccepted   Mode = "accepted"   // statuses 6..9, by ID lists
	ModeDates      Mode = "dates"      // every non-terminal status, by date ranges
)

// Modes lists the modes in the order they are shown and run.
var Modes = []Mode{ModeProcessing, ModeAccepted, ModeDates}

// ParseMode reads a mode's name.
func ParseMode(text string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == text {
			return m, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("mode %q: want %s", text, strings.Join(names, ", "))
}

// ByIDs says the mode asks by lists of lead IDs (not by dates).
func (m Mode) ByIDs() bool { return m == ModeProcessing || m == ModeAccepted }
