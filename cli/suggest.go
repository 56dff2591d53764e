package cli

import (
	"strings"

	"github.com/pidone/pidone/workers"
)

// closestOption returns the long option of table that name most likely
// misspells, or "" when none is close enough to be worth suggesting: a
// suggestion that is wrong is worse than none. Close enough is one edit
// for names up to four letters, two up to ten, three beyond; an edit is an
// insertion, a deletion, a substitution or two neighbours swapped. A tie
// goes to the option listed first.
func closestOption(name string, table []option) string {
	name = strings.ToLower(name)
	limit := 1
	switch {
	case len(name) > 10:
		limit = 3
	case len(name) > 4:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, o := range table {
		if o.long == "" {
			continue
		}
		if d := editDistance(name, o.long); d < bestDist {
			best, bestDist = o.long, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus the swap of two neighbouring bytes, the commonest
// typing slip).
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// ctlVerbList is "status|stop|reload|restart", for pidone --help.
func ctlVerbList() string {
	var names []string
	for _, v := range workers.CtlVerbs {
		if v.Name != "help" {
			names = append(names, v.Name)
		}
	}
	return strings.Join(names, "|")
}
