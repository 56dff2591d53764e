package main

import "fmt"

// runPs prints one line "<pid> <state> <comm>" per process in /proc, then
// "zombies=<n>". Inside a container (no ps there: the images are FROM
// scratch) it shows what the init left behind.
func runPs(args []string) error {
	procs, err := readProcs()
	if err != nil {
		return err
	}
	zombies := 0
	for _, p := range procs {
		fmt.Printf("%d %s %s\n", p.pid, p.state, p.comm)
		if p.state == "Z" {
			zombies++
		}
	}
	fmt.Printf("zombies=%d\n", zombies)
	return nil
}
