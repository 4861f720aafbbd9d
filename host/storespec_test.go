package host

import (
	"strings"
	"testing"
)

// Where leads are kept, from --store or leadhost.toml and the
// environment; nothing said keeps Badger in --data.
func TestParseStoreSpec(t *testing.T) {
	const url = "postgres://leadhost:pw@db.example/leads"
	cases := []struct {
		spec, env string
		want      StoreSpec
		err       string
	}{
		{spec: "", want: StoreSpec{Dir: "./data"}},
		{spec: "badger", want: StoreSpec{Dir: "./data"}},
		{spec: "badger:/var/lib/leadhost", want: StoreSpec{Dir: "/var/lib/leadhost"}},
		{spec: url, want: StoreSpec{URL: url}},
		{spec: "postgresql://db/leads", env: url, want: StoreSpec{URL: "postgresql://db/leads"}},
		{spec: "", env: url, want: StoreSpec{URL: url}},
		{spec: "postgres", env: url, want: StoreSpec{URL: url}},
		{spec: "badger:./other", env: url, want: StoreSpec{Dir: "./other"}},
		{spec: "postgres", err: "LEADHOST_DATABASE_URL is not set"},
		{spec: "badger:", err: "no folder"},
		{spec: "mysql://db", err: "want badger:FOLDER or postgres://"},
	}
	for _, c := range cases {
		got, err := ParseStoreSpec(c.spec, "./data", c.env)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q (env %q): error %v, want it to say %q", c.spec, c.env, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q (env %q) = %+v, %v; want %+v", c.spec, c.env, got, err, c.want)
		}
	}
}
