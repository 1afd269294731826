package sim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/dsgate/dsgate/internal/sim"
)

// Another package's test starts the strict DeepSeek double in-process and
// points its DeepSeek client at it.
func ExampleNew_deepSeek() {
	double := sim.New(sim.Options{Personality: sim.PersonalityDeepSeek, APIKey: "sk-test"})
	srv := httptest.NewServer(double)
	defer srv.Close()

	post := func(model string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"Hello!"}]}`))
		req.Header.Set("Authorization", "Bearer sk-test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.Contains(string(body), `"reasoning_content"`))
	}
	post("deepseek-v4-flash")
	post("deepseek-chat")

	double.SetBalance(sim.Balance{Currency: "CNY"}) // spent: generation now answers 402
	post("deepseek-v4-pro")
	// Output:
	// 200 true
	// 400 false
	// 402 false
}
