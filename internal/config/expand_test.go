package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const minimal = `
upstreams:
  - {name: s, kind: sim}
models:
  - {name: m, targets: [{upstream: s}]}
`

func parseString(t *testing.T, y string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader("version: 1\n" + y + minimal))
}

// Issue 13 item 9: store.dsn: ${DSGATE_POSTGRES_DSN} used to open a SQLite
// file literally named "${DSGATE_POSTGRES_DSN}".
func TestStoreDSNIsExpanded(t *testing.T) {
	t.Setenv("DSGATE_TEST_DSN", "postgres://dsgate@127.0.0.1:5432/dsgate")
	c, err := parseString(t, "store:\n  dsn: ${DSGATE_TEST_DSN}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.DSN != "postgres://dsgate@127.0.0.1:5432/dsgate" {
		t.Fatalf("store.dsn = %q", c.Store.DSN)
	}
}

func TestAddressesAreExpanded(t *testing.T) {
	t.Setenv("DSGATE_TEST_HOST", "redis.internal")
	c, err := parseString(t, `redis: {addr: "${DSGATE_TEST_HOST}:6379"}
audit: {elasticsearch: {url: "http://${DSGATE_TEST_HOST}:9200"}}
cache: {s3: {endpoint: "${DSGATE_TEST_HOST}:9000"}}
batch: {s3: {endpoint: "${DSGATE_TEST_HOST}:9000"}}
tracing: {endpoint: "${DSGATE_TEST_HOST}:4318"}
`)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"redis.addr":              c.Redis.Addr,
		"audit.elasticsearch.url": c.Audit.Elasticsearch.URL,
		"cache.s3.endpoint":       c.Cache.S3.Endpoint,
		"batch.s3.endpoint":       c.Batch.S3.Endpoint,
		"tracing.endpoint":        c.Tracing.Endpoint,
	} {
		if strings.Contains(got, "${") || !strings.Contains(got, "redis.internal") {
			t.Errorf("%s = %q", name, got)
		}
	}
}

func TestReferenceDefault(t *testing.T) {
	const y = `upstreams:
  - {name: d, kind: deepseek, url: "${DSGATE_TEST_BASE_URL:-https://api.deepseek.com}", api_key: "${DSGATE_TEST_KEY}"}
models:
  - {name: m, targets: [{upstream: d}]}
`
	t.Setenv("DSGATE_TEST_KEY", "sk-x")
	for env, want := range map[string]string{
		"":                      "https://api.deepseek.com", // unset or empty: the default
		"http://127.0.0.1:9999": "http://127.0.0.1:9999",
	} {
		t.Setenv("DSGATE_TEST_BASE_URL", env)
		c, err := Parse(strings.NewReader("version: 1\n" + y))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Upstreams[0].URL; got != want {
			t.Errorf("env %q: url = %q, want %q", env, got, want)
		}
	}
}

func TestUnsetReferenceIsAnError(t *testing.T) {
	_, err := parseString(t, "store:\n  dsn: ${DSGATE_TEST_SURELY_UNSET}\n")
	if err == nil || !strings.Contains(err.Error(), "store.dsn") || !strings.Contains(err.Error(), "not set") {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"${}", "${1X}", "${OPEN"} {
		if _, err := parseString(t, "store:\n  dsn: \""+bad+"\"\n"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLiteralPasswordRefused(t *testing.T) {
	t.Setenv("DSGATE_TEST_HOST", "db")
	t.Setenv("DSGATE_TEST_PW", "s3cret")
	for _, dsn := range []string{
		"postgres://dsgate:${DSGATE_TEST_PW}@db:5432/dsgate",
		"host=${DSGATE_TEST_HOST} user=dsgate password=${DSGATE_TEST_PW}",
	} {
		if _, err := parseString(t, "store:\n  dsn: \""+dsn+"\"\n"); err != nil {
			t.Errorf("%s: a referenced password refused: %v", dsn, err)
		}
	}
	for _, dsn := range []string{
		"postgres://dsgate:hunter2@db:5432/dsgate",
		"postgres://dsgate:hunter2@${DSGATE_TEST_HOST}:5432/dsgate",
		"host=db user=dsgate password=hunter2 dbname=dsgate",
		"host=${DSGATE_TEST_HOST} password='hunter2'",
	} {
		_, err := parseString(t, "store:\n  dsn: \""+dsn+"\"\n")
		if err == nil || !strings.Contains(err.Error(), "store.dsn") || !strings.Contains(err.Error(), "literal password") {
			t.Errorf("%s: err = %v", dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestPrintRedactsReferencedPasswords(t *testing.T) {
	t.Setenv("DSGATE_TEST_DSN", "postgres://dsgate:hunter2@db:5432/dsgate")
	t.Setenv("DSGATE_TEST_ES", "https://elastic:hunter3@es:9200")
	c, err := parseString(t, "store: {dsn: \"${DSGATE_TEST_DSN}\"}\naudit: {elasticsearch: {url: \"${DSGATE_TEST_ES}\"}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.DSN != "postgres://dsgate:hunter2@db:5432/dsgate" {
		t.Fatalf("dsn = %q", c.Store.DSN)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter") {
		t.Errorf("printed config shows a password:\n%s", out)
	}
	if !strings.Contains(string(out), "postgres://dsgate:xxxxx@db:5432/dsgate") {
		t.Errorf("dsn not shown redacted:\n%s", out)
	}
	if got := RedactCredentials("host=db password='a b' user=x"); strings.Contains(got, "a b") {
		t.Errorf("key/value DSN: %q", got)
	}
}

// TestEveryStringIsExpanded walks the Config type: every string field,
// list element and map value, however deep, holds a reference before
// expandAll and its value after, except fields tagged ref:"literal"; every
// Secret is resolved. A field added later is covered without being listed.
func TestEveryStringIsExpanded(t *testing.T) {
	t.Setenv("DSGATE_WALK", "expanded")
	c := &Config{}
	fill(reflect.ValueOf(c).Elem(), 0)
	if err := c.expandAll(); err != nil {
		t.Fatal(err)
	}
	var strs, secrets int
	walkRefs(reflect.ValueOf(c).Elem(), "", func(path string, v reflect.Value, literal bool) {
		if v.Type() == secretType {
			secrets++
			if s := v.Interface().(Secret); s.Value() != "expanded" {
				t.Errorf("%s: secret not resolved: %q", path, s.Value())
			}
			return
		}
		strs++
		switch {
		case literal && v.String() != "${DSGATE_WALK}":
			t.Errorf("%s: literal field was expanded", path)
		case !literal && v.String() != "expanded":
			t.Errorf("%s = %q, not expanded", path, v.String())
		}
	})
	if strs < 60 || secrets < 8 {
		t.Errorf("walk saw only %d strings and %d secrets", strs, secrets)
	}
}

// fill sets every string to a reference, every Secret to one, and gives
// every list one element and every map one entry.
func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	if v.Type() == secretType {
		v.Set(reflect.ValueOf(Secret{ref: "${DSGATE_WALK}"}))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("${DSGATE_WALK}")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

func TestSecretFilePathReference(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("sk-file\n"), 0o600)
	t.Setenv("DSGATE_TEST_CREDS", dir)
	c, err := Parse(strings.NewReader(`version: 1
upstreams: [{name: d, kind: deepseek, url: "https://api.deepseek.com", api_key: "file:${DSGATE_TEST_CREDS}/key"}]
models: [{name: m, targets: [{upstream: d, model: deepseek-v4-flash}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upstreams[0].APIKey.Value(); got != "sk-file" {
		t.Errorf("api key = %q", got)
	}
}
