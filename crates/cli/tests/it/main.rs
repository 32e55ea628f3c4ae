//! End-to-end tests of the `stflash` binary and of the library on the
//! simulator: one test binary, one module per area (ripgrep's layout).

mod common;

mod checks;
mod cli;
mod control;
mod doctor;
mod eeprom;
mod everyday;
mod f0f1f3;
mod f2f4f7;
mod fallback;
mod fastfaults;
mod fastprog;
mod faults;
mod h5small;
mod h7;
mod h7rs;
mod journal;
mod l0l1;
mod l4g;
mod l5u5h5;
mod messages;
mod options;
mod perturb;
mod protocol;
mod recover;
mod robustness;
mod serialize;
mod speed;
mod station;
mod u0c0;
mod validation;
mod wba5u3;
