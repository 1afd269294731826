package console

// chart is an SVG bar chart drawn by the server: the template turns each
// bar into a <rect> with a <title> tooltip. Coordinates are in a fixed
// viewBox (chartW x chartH); CSS scales the SVG to the screen.
type chart struct {
	Title       string
	W, H        int
	Bars        []bar
	Max         string // label of the top of the scale
	First, Last string // labels of the first and last bar
	Empty       bool
}

type bar struct {
	X, Y, W, H float64
	Label      string
}

const (
	chartW = 600
	chartH = 140
)

// barChart scales values to the chart's height; labels (same length)
// title each bar, and format labels the scale's top.
func barChart(title string, values []float64, labels []string, format func(float64) string) chart {
	c := chart{Title: title, W: chartW, H: chartH, Empty: true}
	if len(values) == 0 {
		return c
	}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	c.Max = format(top)
	c.First, c.Last = labels[0], labels[len(labels)-1]
	if top == 0 {
		top = 1
	} else {
		c.Empty = false
	}
	step := float64(chartW) / float64(len(values))
	gap := min(step*0.15, 2)
	for i, v := range values {
		h := v / top * (chartH - 2)
		c.Bars = append(c.Bars, bar{X: float64(i) * step, Y: chartH - h, W: step - gap, H: h,
			Label: labels[i] + ": " + format(v)})
	}
	return c
}
