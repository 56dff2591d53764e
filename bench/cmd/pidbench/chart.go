package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Chart layout, in pixels.
const (
	chartWidth  = 1100
	labelWidth  = 120
	barMax      = 760
	barHeight   = 13
	barGap      = 3
	titleHeight = 20
	panelGap    = 12
	margin      = 14
)

var (
	initColors = map[string]color.RGBA{
		"tini":      {0x4c, 0x72, 0xb0, 0xff},
		"dumb-init": {0xdd, 0x84, 0x52, 0xff},
		"catatonit": {0x55, 0xa8, 0x68, 0xff},
		"pidone":    {0xc4, 0x4e, 0x52, 0xff},
	}
	variantColor = color.RGBA{0x81, 0x72, 0xb3, 0xff} // -variant builds of pidone
	black        = color.RGBA{0, 0, 0, 0xff}
	grey         = color.RGBA{0x80, 0x80, 0x80, 0xff}
	green        = color.RGBA{0x1a, 0x7f, 0x37, 0xff}
	red          = color.RGBA{0xc0, 0x10, 0x10, 0xff}
)

// chart draws one panel per row of the table: a bar per init, scaled to the
// largest figure of that row, with the value at the end of the bar and
// pidone's ratio and verdict in the panel's title.
func (res *results) chart(w io.Writer) error {
	names := res.names()
	peers := res.peerNames()
	panel := titleHeight + len(names)*(barHeight+barGap) + panelGap
	height := 2*margin + 2*titleHeight
	for _, r := range res.Rows {
		if r.NA != "" {
			height += titleHeight
		} else {
			height += panel
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(x, y int, c color.Color, s string) {
		d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13,
			Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	y := margin + 12
	text(margin, y, black, fmt.Sprintf("pidone vs tini, dumb-init, catatonit, as PID 1 of fresh PID namespaces; lower is better. %s", res.Started))
	y += titleHeight
	text(margin, y, grey, fmt.Sprintf("load at start %s, at end %s%s", res.LoadAt["start"], res.LoadAt["end"],
		map[bool]string{true: " (quick run)", false: ""}[res.Quick]))
	y += titleHeight

	for _, r := range res.Rows {
		name := r.Metric
		if r.Unit != "" {
			name += " (" + r.Unit + ")"
		}
		if r.NA != "" {
			text(margin, y, grey, name+": n/a ("+r.NA+")")
			y += titleHeight
			continue
		}
		b, who := r.bestPeer(peers)
		title := name
		for _, s := range res.subjects() {
			if q := ratio(r.value(s), b); !math.IsNaN(q) {
				title += fmt.Sprintf("   %s/%s = %.2fx", s, who, q)
			}
		}
		if t := r.targetText(); t != "" {
			title += "   target " + t
		}
		text(margin, y, black, title)
		if v := r.verdict(peers, "pidone"); v != "" {
			c := green
			if v != "met" {
				c = red
			}
			if r.noisy(res.Cores) {
				v += " (noisy)"
			}
			text(margin+len(title)*7+14, y, c, v)
		}
		y += 6
		top := 0.0
		for _, n := range names {
			if v := r.value(n); !math.IsNaN(v) && v > top {
				top = v
			}
		}
		for _, n := range names {
			v := r.value(n)
			text(margin, y+barHeight-2, black, n)
			x0 := margin + labelWidth
			if !math.IsNaN(v) {
				l := 1
				if top > 0 {
					l = max(1, int(v/top*barMax))
				}
				col, ok := initColors[n]
				if !ok {
					col = variantColor
				}
				draw.Draw(img, image.Rect(x0, y, x0+l, y+barHeight), image.NewUniform(col), image.Point{}, draw.Src)
				text(x0+l+6, y+barHeight-2, black, fmtNum(v, r.Digits))
			} else {
				text(x0, y+barHeight-2, grey, "n/a")
			}
			y += barHeight + barGap
		}
		y += panelGap + titleHeight - 6
	}
	return png.Encode(w, img)
}
