// Package supervisor is pidone's init proper: it starts the main command,
// owns the one event loop that holds all mutable state, and decides when to
// exit and with what status.
//
// It lives in the directory init/ as the design card asks, but cannot be
// called init: Go refuses to import a package of that name ("cannot import
// package as init"), since init is reserved for initialisation functions.
//
// Data flows one way: the reaper (package reap) reports exits, the runtime
// reports signals (package forward), and the loop in Run reacts to both.
// Nothing else waits for a process, and nothing else decides.
package supervisor
