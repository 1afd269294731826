package server

import (
	"slices"
	"testing"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/upstream"
)

// The config package validates names the upstream package defines but may
// not import; these lists must not drift apart.
func TestConfigListsMatchUpstream(t *testing.T) {
	if !slices.Equal(config.ThinkingSwitches, upstream.ThinkingSwitches) {
		t.Errorf("config.ThinkingSwitches = %v, upstream.ThinkingSwitches = %v", config.ThinkingSwitches, upstream.ThinkingSwitches)
	}
	if got := upstream.FIMFamilies(); !slices.Equal(config.FIMFamilies, got) {
		t.Errorf("config.FIMFamilies = %v, upstream.FIMFamilies() = %v", config.FIMFamilies, got)
	}
}
