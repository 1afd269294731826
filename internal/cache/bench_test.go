package cache_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	"github.com/dsgate/dsgate/internal/cache/disk"
	cacheredis "github.com/dsgate/dsgate/internal/cache/redis"
	caches3 "github.com/dsgate/dsgate/internal/cache/s3"
)

// typicalChatBody is a ~2 KB chat request: system prompt, a short history
// with a tool call, one tool definition and the usual parameters.
func typicalChatBody() []byte {
	system := strings.Repeat("You are a concise assistant for an internal help desk. ", 12)
	return []byte(fmt.Sprintf(`{"model":"deepseek-chat","temperature":0,"max_tokens":1024,"stream":true,`+
		`"stream_options":{"include_usage":true},"user":"u-1234",`+
		`"messages":[{"role":"system","content":%q},`+
		`{"role":"user","content":"What is the weather in Paris and Berlin today? Answer in one sentence each."},`+
		`{"role":"assistant","content":"","reasoning_content":"Need both cities.","tool_calls":[`+
		`{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},`+
		`{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Berlin\"}"}}]},`+
		`{"role":"tool","tool_call_id":"call_0","content":"{\"temp_c\":14.5,\"sky\":\"cloudy\"}"},`+
		`{"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":11.0,\"sky\":\"rain\"}"}],`+
		`"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",`+
		`"parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},`+
		`"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}],"tool_choice":"auto"}`, system))
}

func BenchmarkDeriveKey(b *testing.B) {
	body := typicalChatBody()
	parts := cache.KeyParts{PublicModel: "deepseek-chat", UpstreamModel: "deepseek-v4-flash", ModelVersion: "1", Scope: "client-1"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.DeriveKey("chat.completions", body, parts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryGetHit(b *testing.B) {
	m, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	k := cachetest.SampleKey(b, 1)
	if err := m.Set(ctx, k, cachetest.SampleEntry("m", 1), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTieredGetHit measures a hit served by each tier through Tiered,
// each tier alone so that nothing is promoted above it. The entry is a
// ~2 KB answer with 40 stream chunks.
func BenchmarkTieredGetHit(b *testing.B) {
	e := cachetest.SampleEntry("deepseek-chat", 1)
	e.Body = []byte(strings.Repeat("x", 2048))
	e.Chunks = make([][]byte, 40)
	for i := range e.Chunks {
		e.Chunks[i] = []byte(strings.Repeat("y", 200))
	}
	tiers := []struct {
		name   string
		inline bool
		open   func(b *testing.B) cache.Store
	}{
		{"memory", true, func(b *testing.B) cache.Store {
			m, err := cache.NewMemory(cache.MemoryOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			return m
		}},
		{"redis", false, benchRedis},
		{"disk", false, func(b *testing.B) cache.Store {
			d, err := disk.Open(disk.Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.Close() })
			return d
		}},
		{"s3", false, benchS3},
	}
	for _, tier := range tiers {
		b.Run(tier.name, func(b *testing.B) {
			ctx := context.Background()
			s := tier.open(b)
			tc, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{
				{Store: s, Inline: tier.inline, Timeout: time.Second},
			}})
			if err != nil {
				b.Fatal(err)
			}
			k := cachetest.SampleKey(b, 7)
			if err := s.Set(ctx, k, e, time.Hour); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				hit, err := tc.Get(ctx, k)
				if err != nil || hit.Tier != tier.name {
					b.Fatalf("Get = %q, %v", hit.Tier, err)
				}
			}
		})
	}
}

func benchRedis(b *testing.B) cache.Store {
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		b.Skipf("redis at %s: %v", addr, err)
	}
	s, err := cacheredis.New(cacheredis.Options{Client: rdb, Prefix: fmt.Sprintf("dsgatebench:%d:", time.Now().UnixNano())})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Purge(context.Background(), cache.Filter{}) })
	return s
}

func benchS3(b *testing.B) cache.Store {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	b.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4("a", "b", ""), Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), "cache", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	s, err := caches3.New(caches3.Options{Client: c, Bucket: "cache"})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkReplayChunks(b *testing.B) {
	body, err := os.ReadFile("testdata/thinking_tools.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.ReplayChunks(body, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAssembleStream(b *testing.B) {
	chunks := readSSEFile(b, "thinking_tools.sse")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.AssembleStream(chunks); err != nil {
			b.Fatal(err)
		}
	}
}

// mockChunks are the 20 chunks bench/cpu's mock upstream streams (role,
// 17 tokens, finish, usage): the shape the chunk scan reads without
// encoding/json (thinking_tools.sse has tool calls, left to it). role is
// put in every token chunk (`"role":"assistant",`, as Ollama sends them).
func mockChunks(role string) [][]byte {
	const head = `{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[`
	c := [][]byte{[]byte(head + `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)}
	for i := range 17 {
		c = append(c, []byte(head+`{"index":0,"delta":{`+role+`"content":"tok`+strconv.Itoa(i)+` "},"finish_reason":null}]}`))
	}
	return append(c, []byte(head+`{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":17,"total_tokens":29}}`))
}

// BenchmarkAssembleMockStream assembles mockChunks, with the role in the
// first chunk only ("role-first") and in every chunk.
func BenchmarkAssembleMockStream(b *testing.B) {
	for name, role := range map[string]string{"role-first": "", "role-every-chunk": `"role":"assistant",`} {
		chunks := mockChunks(role)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cache.AssembleStream(chunks); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewCheckedEntry stores bench/cpu's mock answer, what every
// cache miss does.
func BenchmarkNewCheckedEntry(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-mock","object":"chat.completion","created":1764000000,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! I am a fixed answer of the benchmark's mock upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":16,"total_tokens":28}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := cache.NewCheckedEntry(body, nil, "deepseek-chat", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
