package host

import (
	"fmt"
	"strings"
)

// DatabaseURLEnv is the environment variable holding the PostgreSQL URL:
// it keeps the database's password out of leadhost.toml and the command
// line.
const DatabaseURLEnv = "LEADHOST_DATABASE_URL"

// StoreSpec says where leads are kept: a Badger folder, or a PostgreSQL
// database (URL set).
type StoreSpec struct {
	Dir string // Badger's folder, when URL is ""
	URL string // postgres://…
}

// ParseStoreSpec reads where leads are kept, as --store and leadhost.toml
// store say it: "badger:DIR", "postgres://…" (or "postgresql://…"), or
// "postgres" alone for the URL in LEADHOST_DATABASE_URL (databaseURL).
// Nothing said is the database at databaseURL when it is set, else Badger
// in dataDir (--data): nothing changes for a network that sets none.
func ParseStoreSpec(spec, dataDir, databaseURL string) (StoreSpec, error) {
	switch {
	case spec == "" && databaseURL != "":
		return StoreSpec{URL: databaseURL}, nil
	case spec == "" || spec == "badger":
		return StoreSpec{Dir: dataDir}, nil
	case strings.HasPrefix(spec, "badger:"):
		dir := strings.TrimPrefix(spec, "badger:")
		if dir == "" {
			return StoreSpec{}, fmt.Errorf("store %q: no folder after badger:", spec)
		}
		return StoreSpec{Dir: dir}, nil
	case spec == "postgres" || spec == "postgresql":
		if databaseURL == "" {
			return StoreSpec{}, fmt.Errorf("store %q: %s is not set (or give the URL: postgres://user@host/db)", spec, DatabaseURLEnv)
		}
		return StoreSpec{URL: databaseURL}, nil
	case strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://"):
		return StoreSpec{URL: spec}, nil
	}
	return StoreSpec{}, fmt.Errorf("store %q: want badger:FOLDER or postgres://user@host/database", spec)
}
