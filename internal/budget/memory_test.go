package budget_test

import (
	"testing"

	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/budget/budgettest"
)

func TestMemoryConformance(t *testing.T) {
	budgettest.Run(t, func(*testing.T) budget.Backend { return budget.NewMemory() })
}
