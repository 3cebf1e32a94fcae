// What `pulumi up` runs: the stack's config becomes one MailFleet; its outputs are the stack's.
// First: on a Node too old for the program, say which Node it needs before anything else loads.
import "./components/nodeVersion";
import { cliProgram } from "./components/program";

// The function, not its promise: the SDK calls it and handles its failure as it happens.
export = cliProgram;
