package decode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// phpUnserialize runs PHP's unserialize() on each text in one php
// process and gives, for each, its value as JSON ("" when PHP refused it).
func phpUnserialize(t *testing.T, texts []string) []string {
	t.Helper()
	if _, err := exec.LookPath("php"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("php is not installed: .ci/run installs php-cli")
		}
		t.Skip("php is not installed (apt install php-cli): the differential test of the serialize decoder does not run here")
	}
	in, _ := json.Marshal(texts)
	const prog = `$out = [];
foreach (json_decode(stream_get_contents(STDIN)) as $s) {
    $v = @unserialize($s);
    $out[] = ($v === false && $s !== 'b:0;') ? '' : json_encode($v, JSON_PRESERVE_ZERO_FRACTION | JSON_PARTIAL_OUTPUT_ON_ERROR);
}
echo json_encode($out);`
	cmd := exec.Command("php", "-r", prog)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php: %v", err)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(texts) {
		t.Fatalf("php answered %q: %v", out, err)
	}
	return got
}

// normalJSON reads JSON with its numbers as int64 where they are whole
// and float64 otherwise, so that PHP's 1.0 and our 1 compare as the same
// value only when they are.
func normalJSON(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case json.Number:
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				return float64(n)
			}
			f, _ := strconv.ParseFloat(string(v), 64)
			return f
		case map[string]any:
			for k, e := range v {
				v[k] = walk(e)
			}
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		}
		return v
	}
	return walk(v)
}

// The decoder reads serialize() as PHP's unserialize() does: each text of
// testdata/serialize/php-cases.txt and 300 generated ones give the value
// PHP gives (through json_encode), or an error where PHP refuses, but
// for what decodeSerialize says it refuses on purpose.
func TestSerializeAsPHPReadsIt(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/serialize/php-cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var texts []string
	refused := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "refused: "); ok {
			refused[rest], line = true, rest
		}
		texts = append(texts, line)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		texts = append(texts, phpSerialize(genPHP(rng, 0)))
	}
	php := phpUnserialize(t, texts)
	for i, text := range texts {
		v, err := decodeSerialize([]byte(text))
		switch {
		case refused[text]:
			if err == nil {
				t.Errorf("%s: read as %v; we refuse it on purpose", text, v)
			}
		case php[i] == "" && err == nil:
			t.Errorf("%s: PHP refuses it, we read %v", text, v)
		case php[i] != "" && err != nil:
			t.Errorf("%s: PHP reads %s, we refuse it: %v", text, php[i], err)
		case err == nil:
			ours, _ := json.Marshal(v)
			if !reflect.DeepEqual(normalJSON(t, string(ours)), normalJSON(t, php[i])) {
				t.Errorf("%s:\n PHP reads %s\n we read  %s", text, php[i], ours)
			}
		}
	}
}

// genPHP makes a random PHP value: scalars, lists, maps with string and
// integer keys (numeric strings among them).
func genPHP(rng *rand.Rand, depth int) any {
	switch n := rng.IntN(8); {
	case depth > 3 || n < 4:
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return rng.IntN(2) == 1
		case 2:
			return int64(rng.IntN(2000) - 1000)
		case 3:
			return float64(rng.IntN(100000)) / 8
		case 4:
			return strconv.Itoa(rng.IntN(30)) // numeric strings
		default:
			return []string{"", "a", "Иван", "x\"y", "a;b:c{}", "05"}[rng.IntN(6)]
		}
	case n < 6:
		list := make([]any, rng.IntN(4))
		for i := range list {
			list[i] = genPHP(rng, depth+1)
		}
		return list
	default:
		m := map[string]any{}
		for range rng.IntN(4) {
			m[[]string{"id", "0", "1", "7", "-3", "05", "status", "Статус"}[rng.IntN(8)]] = genPHP(rng, depth+1)
		}
		return m
	}
}

// phpSerialize writes v as PHP's serialize() would (map keys sorted, as
// strings, so that numeric ones are written as PHP would not: the reader
// must turn them back into integers).
func phpSerialize(v any) string {
	switch v := v.(type) {
	case nil:
		return "N;"
	case bool:
		if v {
			return "b:1;"
		}
		return "b:0;"
	case int64:
		return fmt.Sprintf("i:%d;", v)
	case float64:
		return "d:" + strconv.FormatFloat(v, 'g', -1, 64) + ";"
	case string:
		return fmt.Sprintf("s:%d:\"%s\";", len(v), v)
	case []any:
		var b strings.Builder
		fmt.Fprintf(&b, "a:%d:{", len(v))
		for i, e := range v {
			fmt.Fprintf(&b, "i:%d;%s", i, phpSerialize(e))
		}
		return b.String() + "}"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		fmt.Fprintf(&b, "a:%d:{", len(v))
		for _, k := range keys {
			b.WriteString(phpSerialize(k) + phpSerialize(v[k]))
		}
		return b.String() + "}"
	}
	panic(fmt.Sprintf("genPHP made a %T", v))
}
