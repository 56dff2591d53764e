// Package workers will hold pidone's master-worker mode (the libhv hmain
// model): worker slots, respawn throttling, the locked pidfile, reload and
// the control verbs. It is empty until that mode is built.
package workers
