@ stflash streaming flash routine (Thumb-1, ARMv6-M subset: runs on every
@ Cortex-M from M0 up).
@
@ The host loads this code into target SRAM and starts it with
@   r0 = address of a table of buffer-header addresses (the slot ring)
@   r1 = number of slots
@ and the core halted-debug state set to run with C_MASKINTS.
@
@ Each slot is a buffer the host fills with one WRITEMEM: a script, the data
@ it refers to, and a header whose last word (the flag) is written last, so
@ the buffer becomes ready in one transfer. The routine works through the
@ slots in ring order:
@   flag == READY: run the script, then set DONE (or FAIL with the status)
@   flag == STOP:  set DONE and halt with BKPT
@   anything else: wait (the host has not filled the slot yet)
@
@ Header (words):  +0 script pointer   +4 results pointer (READ appends)
@                  +8 fail: script position after the failing op
@                 +12 fail: address (end of the failing unit for PROGRAM)
@                 +16 fail: status register value   +20 flag
@
@ Script ops (32-bit words; operands follow the op code):
@   0 END
@   1 WRITE   addr value                 str value -> [addr], then DSB
@   2 WAIT    sr busy errors clear eop   poll [sr] until (v & busy) == 0;
@                                        v & errors: FAIL; v & eop: write it to [clear]
@   3 PROGRAM dst src len unit width  sr busy errors clear eop
@                                        copy len bytes src -> dst, unit by
@                                        unit with width-byte stores (1, 2, 4),
@                                        DSB and WAIT after each unit
@   4 READ    addr                       *results++ = [addr]
@   5 FEED    src nwords dst             nwords times: [dst] = *src++ (CRC unit)
@   6 STOP                               set DONE and halt with BKPT (last buffer)
@
@ Register use: r4 current flash address (PROGRAM), r5 script position,
@ r6 header, r7 source pointer, r8 slot table, r9 slot count, r10 slot index,
@ r11 bytes left (PROGRAM). No stack is used.

        .syntax unified
        .cpu    cortex-m0
        .thumb
        .text
        .align  2

        .equ    FLAG_READY, 0x59444552      @ "REDY" little-endian
        .equ    FLAG_DONE,  0x454E4F44      @ "DONE"
        .equ    FLAG_FAIL,  0x4C494146      @ "FAIL"
        .equ    FLAG_STOP,  0x504F5453      @ "STOP"

        .global stream_start
        .thumb_func
stream_start:
        mov     r8, r0
        mov     r9, r1
        movs    r0, #0
        mov     r10, r0

next_slot:
        mov     r0, r10
        lsls    r0, r0, #2
        mov     r1, r8
        ldr     r6, [r1, r0]
wait_ready:
        ldr     r0, [r6, #20]
        ldr     r1, =FLAG_STOP
        cmp     r0, r1
        beq     stop
        ldr     r1, =FLAG_READY
        cmp     r0, r1
        bne     wait_ready
        ldr     r5, [r6, #0]

op_loop:
        ldm     r5!, {r0}
        cmp     r0, #1
        beq     op_write
        cmp     r0, #2
        beq     op_wait
        cmp     r0, #3
        beq     op_program
        cmp     r0, #4
        beq     op_read
        cmp     r0, #5
        beq     op_feed
        cmp     r0, #0
        beq     op_end
        cmp     r0, #6
        beq     stop
        @ Unknown op: fail with the op code as status, address all ones.
        movs    r4, #0
        mvns    r4, r4
        b       fail

op_write:
        ldm     r5!, {r0, r1}
        str     r1, [r0]
        dsb
        b       op_loop

op_wait:
        movs    r4, #0
        mov     r3, r5
        adds    r5, #20
        bl      wait_status
        b       op_loop

op_read:
        ldm     r5!, {r0}
        ldr     r0, [r0]
        ldr     r1, [r6, #4]
        stm     r1!, {r0}
        str     r1, [r6, #4]
        b       op_loop

op_feed:
        ldm     r5!, {r0, r1, r2}
        cmp     r1, #0
        beq     op_loop
feed_word:
        ldm     r0!, {r3}
        str     r3, [r2]
        subs    r1, #1
        bne     feed_word
        b       op_loop

op_program:
        mov     r3, r5
        adds    r5, #40
        ldr     r4, [r3, #0]
        ldr     r7, [r3, #4]
        ldr     r0, [r3, #8]
        mov     r11, r0
prog_unit:
        mov     r0, r11
        cmp     r0, #0
        beq     op_loop
        ldr     r2, [r3, #12]
        subs    r0, r0, r2
        mov     r11, r0
        ldr     r1, [r3, #16]
        cmp     r1, #4
        beq     unit_word
        cmp     r1, #2
        beq     unit_half
unit_byte:
        ldrb    r0, [r7]
        strb    r0, [r4]
        adds    r7, #1
        adds    r4, #1
        subs    r2, #1
        bne     unit_byte
        b       unit_done
unit_half:
        ldrh    r0, [r7]
        strh    r0, [r4]
        adds    r7, #2
        adds    r4, #2
        subs    r2, #2
        bne     unit_half
        b       unit_done
unit_word:
        ldr     r0, [r7]
        str     r0, [r4]
        adds    r7, #4
        adds    r4, #4
        subs    r2, #4
        bne     unit_word
unit_done:
        dsb
        adds    r3, #20
        bl      wait_status
        subs    r3, #20
        b       prog_unit

op_end:
        dsb
        ldr     r0, =FLAG_DONE
        str     r0, [r6, #20]
        mov     r0, r10
        adds    r0, #1
        cmp     r0, r9
        bne     1f
        movs    r0, #0
1:      mov     r10, r0
        b       next_slot

@ r3 -> [sr, busy, errors, clear, eop]. Returns with r0-r2 clobbered, or
@ branches to fail with r0 = the status value.
wait_status:
        ldr     r1, [r3, #0]
        ldr     r2, [r3, #4]
poll:
        ldr     r0, [r1]
        tst     r0, r2
        bne     poll
        ldr     r2, [r3, #8]
        tst     r0, r2
        bne     fail
        ldr     r2, [r3, #16]
        ands    r2, r0
        beq     1f
        ldr     r1, [r3, #12]
        str     r2, [r1]
1:      bx      lr

@ r0 = status, r4 = address, r5 = script position.
fail:
        str     r0, [r6, #16]
        str     r5, [r6, #8]
        str     r4, [r6, #12]
        ldr     r0, =FLAG_FAIL
        str     r0, [r6, #20]
        bkpt    #0

stop:
        ldr     r0, =FLAG_DONE
        str     r0, [r6, #20]
        bkpt    #0

        .align  2
        .ltorg
