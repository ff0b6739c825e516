// Hardhat 2 compiles the same contracts/ with the same solc-js (node_modules/solc) and the same
// settings (contracts/compiler.json) as the Python toolchain (chain/compile.py). Native solc
// downloads are not reachable here, so the compiler is never looked up or downloaded: the
// solc-build subtask answers with the local solc-js module.
//
// The Python test suite (tests/) exercises every contract function against a real anvil;
// tests/test_roles_matrix.py fails if a state-changing function has no row. Hardhat is kept
// for compiling (`npx hardhat compile`) and for anyone who prefers its tooling.

const fs = require("fs");
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const compiler = JSON.parse(
  fs.readFileSync(path.join(__dirname, "contracts", "compiler.json"), "utf8"),
);
const SOLJSON = require.resolve("solc/soljson.js");

let longVersion;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }) => {
  if (solcVersion !== compiler.version) {
    throw new Error(
      `contracts/compiler.json pins solc ${compiler.version}; Hardhat asked for ${solcVersion}`,
    );
  }
  if (longVersion === undefined) {
    // Loading soljson takes a moment; only when a compilation actually runs.
    const solc = require("solc/wrapper")(require(SOLJSON));
    longVersion = solc.version();
    if (!longVersion.startsWith(`${compiler.version}+`)) {
      throw new Error(`node_modules/solc is ${longVersion}, compiler.json wants ${compiler.version}`);
    }
  }
  return { compilerPath: SOLJSON, isSolcJs: true, version: compiler.version, longVersion };
});

/** @type {import("hardhat/config").HardhatUserConfig} */
module.exports = {
  solidity: {
    compilers: [{ version: compiler.version, settings: compiler.settings }],
  },
  paths: {
    sources: "./contracts",
    tests: "./test",
    cache: "./cache",
    artifacts: "./artifacts",
  },
};
