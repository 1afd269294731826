package auth

import "testing"

func TestPatternCovers(t *testing.T) {
	tests := []struct {
		b, a string
		want bool
	}{
		{"*", "anything/at-all", true},
		{"deepseek-chat", "deepseek-chat", true},
		{"deepseek-*", "deepseek-chat", true},
		{"deepseek-*", "deepseek-chat*", true},
		{"deepseek-*", "deepseek-*", true},
		{"deepseek-chat*", "deepseek-*", false},
		{"deepseek-*", "*", false},
		{"deepseek-*", "deepseek-?", true},
		{"deepseek-*", "deepseek-*/x", false},
		{"deepseek-c?at", "deepseek-chat", true},
		{"deepseek-c?at", "deepseek-c*", false},
		{"qwen", "deepseek-chat", false},
	}
	for _, tt := range tests {
		if got := patternCovers(tt.b, tt.a); got != tt.want {
			t.Errorf("patternCovers(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}
