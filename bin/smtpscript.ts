#!/usr/bin/env node
import { main } from "../smtpscript/cli.js";
import { composeTools } from "./compose.js";
import { runAsProcess } from "./entry.js";

composeTools();
runAsProcess("smtpscript", main);
