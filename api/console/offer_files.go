package console

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// offerFile is one file of an offer's folder as the offer page shows it:
// its text as it is on disk now, with the lines the last load found
// problems on marked.
type offerFile struct {
	Name     string // inside the folder: "check.lua", "hooks/gc.lua"
	Size     int
	Modified time.Time
	Hash     string // the first 12 hex digits of its SHA-256: which text it is
	Loaded   bool   // part of the version running
	Problems []string
	Lines    []fileLine
	Cut      bool // longer than what the page shows
}

// fileLine is one line of a file's text.
type fileLine struct {
	N       int
	Text    string
	Problem string // what the load said of this line ("" none)
}

// maxFileShown bounds the text of one file the page shows.
const maxFileShown = 256 << 10

// offerFiles reads the offer's folder under the scripts folder: offer.toml,
// the Lua files and hooks/*.lua, with the problems of its last failed
// load laid on their lines. Secrets in the text are masked (maskSource).
func offerFiles(scripts, id string, o *host.Offer, loadErrs []error) []offerFile {
	dir := filepath.Join(scripts, id)
	if o != nil {
		dir = o.Dir
	}
	var names []string
	for _, pattern := range []string{"offer.toml", "*.lua", "hooks/*.lua"} {
		got, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, g := range got {
			rel, _ := filepath.Rel(dir, g)
			names = append(names, filepath.ToSlash(rel))
		}
	}
	// Problems by file and line; those naming no file of the folder go
	// with offer.toml (a folder's own problems).
	type spot struct {
		file string
		line int
	}
	problems := map[spot][]string{}
	for _, err := range loadErrs {
		var le *host.LoadError
		if !errors.As(err, &le) {
			problems[spot{"offer.toml", 0}] = append(problems[spot{"offer.toml", 0}], err.Error())
			continue
		}
		file := strings.TrimPrefix(filepath.ToSlash(le.File), id+"/")
		if file == le.File || file == "" {
			file = "offer.toml"
		}
		problems[spot{file, le.Line}] = append(problems[spot{file, le.Line}], le.Error())
		if !contains(names, file) {
			names = append(names, file)
		}
	}
	sort.Slice(names, func(i, j int) bool { return fileOrder(names[i]) < fileOrder(names[j]) })
	var files []offerFile
	for _, name := range names {
		f := offerFile{Name: name}
		if o != nil {
			_, f.Loaded = o.Scripts[name]
			f.Loaded = f.Loaded || name == "offer.toml"
		}
		src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			f.Problems = append(f.Problems, err.Error())
		}
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err == nil {
			f.Modified = st.ModTime()
		}
		f.Size = len(src)
		sum := sha256.Sum256(src)
		f.Hash = hex.EncodeToString(sum[:6])
		if len(src) > maxFileShown {
			src, f.Cut = src[:maxFileShown], true
		}
		for k, msgs := range problems {
			if k.file == name {
				f.Problems = append(f.Problems, msgs...)
			}
		}
		sort.Strings(f.Problems)
		for i, line := range strings.Split(strings.TrimSuffix(string(src), "\n"), "\n") {
			fl := fileLine{N: i + 1, Text: maskSource(line)}
			fl.Problem = strings.Join(problems[spot{name, i + 1}], "; ")
			f.Lines = append(f.Lines, fl)
		}
		files = append(files, f)
	}
	return files
}

// fileOrder puts offer.toml first, then the scripts by name.
func fileOrder(name string) string {
	if name == "offer.toml" {
		return ""
	}
	return name
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// assignment is a name = "value" line of TOML or Lua (local api_key = '…').
var assignment = regexp.MustCompile(`^(\s*(?:local\s+)?["']?([A-Za-z0-9_.\-]+)["']?\s*=\s*)("[^"]*"|'[^']*')(.*)$`)

// maskSource hides secrets in a line of an offer's file: a value given
// to a secret-like name (token = "…", X-Api-Key = "…"), and what
// store.Mask hides in the journal (name=value in URLs, JSON, contacts).
// The hook's token is shown on the offer page on request only.
func maskSource(line string) string {
	if m := assignment.FindStringSubmatch(line); m != nil && store.SecretName(m[2]) {
		return m[1] + `"***"` + m[4]
	}
	return store.Mask(line)
}

// setting is one key of an offer's settings as loaded.
type setting struct{ Key, Value string }

// settingsOf lists cfg's keys as offer.toml names them (check.url,
// send.headers.X-Api-Key), those set only, secrets masked.
func settingsOf(cfg host.OfferConfig) []setting {
	var out []setting
	walkSettings("", reflect.ValueOf(cfg), &out)
	return out
}

var durationType = reflect.TypeOf(host.Duration{})

func walkSettings(prefix string, v reflect.Value, out *[]setting) {
	add := func(value string) {
		key := strings.TrimSuffix(prefix, ".")
		last := key[strings.LastIndexByte(key, '.')+1:]
		if store.SecretName(last) {
			value = "***"
		} else {
			value = store.Mask(value)
		}
		*out = append(*out, setting{key, value})
	}
	switch {
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			walkSettings(prefix, v.Elem(), out)
		}
	case v.Type() == durationType:
		if d := v.Interface().(host.Duration); d.Duration != 0 {
			add(d.String())
		}
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			walkSettings(prefix+name+".", v.Field(i), out)
		}
	case v.Kind() == reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			walkSettings(prefix+k.String()+".", v.MapIndex(k), out)
		}
	case v.Kind() == reflect.Slice:
		if v.Len() > 0 {
			parts := make([]string, v.Len())
			for i := range parts {
				parts[i] = fmt.Sprint(v.Index(i).Interface())
			}
			add(strings.Join(parts, ", "))
		}
	default:
		if !v.IsZero() {
			add(fmt.Sprint(v.Interface()))
		}
	}
}
