#!/usr/bin/env node
// Committed shim so npm can link the bin before the TypeScript build has run.
require("../dist/runner/grade-cli.js");
