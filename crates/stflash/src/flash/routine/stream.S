@ stflash streaming flash routine (Thumb-1, ARMv6-M subset: runs on every
@ Cortex-M from M0 up).
@
@ The host loads this code into target SRAM followed directly by its
@ parameter block (label `params`, in the same write) and starts it at
@ `stream_start` with the core in halted-debug state set to run with
@ C_MASKINTS. No register is passed: the routine finds its parameters with
@ ADR, so starting it takes only PC and xPSR.
@
@ Parameter block (words):
@   +0  READY value: a slot whose flag equals it is ready (a new value per
@       start, so stale slots left in SRAM by an earlier run never look ready)
@   +4  initial stack pointer (the routine uses no stack; it only has to be valid)
@   +8  address of the progress word
@   +12 number of slots
@   +16 address of a 1 KiB area for the software CRC's table
@   +20 0 at each start; then which table is built there: 1 SWCRC's, 2 CRC32's
@   +24 header address of each slot, in ring order
@
@ Progress word: buffers finished since the start; bit 31 set when a buffer
@ failed (that buffer is the one numbered by the count). The host polls this
@ one word, and reads it together with the results area that follows it.
@
@ Each slot is a buffer the host fills with one WRITEMEM: a script, the data
@ it refers to, and a header whose last word (the flag) is written last, so
@ the buffer becomes ready in one transfer. The routine works through the
@ slots in ring order:
@   flag == READY: run the script, set the flag DONE (or FAIL with the
@                  status), count the buffer in the progress word
@   otherwise:     wait (the host has not filled the slot yet)
@
@ Header (words):  +0 script pointer   +4 results pointer (READ appends)
@                  +8 fail: script position after the failing op
@                 +12 fail: address (end of the failing unit for PROGRAM/FILL)
@                 +16 fail: status register value   +20 flag
@
@ Script ops (32-bit words; operands follow the op code). `spec` points at
@ a status wait description, five words [sr busy errors clear eop], kept
@ once per buffer after its data:
@   0 END
@   1 WRITE   addr value                 str value -> [addr], then DSB
@   2 WAIT    spec                       poll [sr] until (v & busy) == 0;
@                                        v & errors: FAIL; v & eop: write it to [clear]
@   3 PROGRAM dst src len unit width spec
@                                        copy len bytes src -> dst, unit by
@                                        unit with width-byte stores (1, 2, 4),
@                                        DSB and WAIT after each unit
@   4 READ    addr                       *results++ = [addr]
@   5 FEED    src nwords dst             nwords times: [dst] = *src++ (CRC unit)
@   6 STOP                               set DONE, count it and halt with BKPT
@   7 ORR     addr bits                  [addr] |= bits, DSB, read [addr] back
@                                        (a peripheral clock enable)
@   8 FILL    dst value len unit width spec
@                                        as PROGRAM, every access storing the
@                                        low bytes of value (a repeated word)
@   9 H7CRC   regs start end             the H7 flash CRC unit of the bank whose
@                                        registers start at regs hashes the
@                                        bank offsets start..end (CRCCR CLEAN,
@                                        CRCSADD, CRCEADD, CRCCR START, wait
@                                        for SR.CRC_BUSY to clear, fail on
@                                        CRCRDERR, clear CRCEND through CCR);
@                                        *results++ = CRCDATA
@  10 SWCRC   src nwords                 *results++ = CRC-32/MPEG-2 of the words
@                                        (each most significant bit first)
@  11 CRC32   src nwords init            *results++ = the register of zlib's
@                                        CRC-32 (reflected, no final XOR) after
@                                        the words' bytes in address order,
@                                        from init
@  12 PAIR    lane lane                  two PROGRAM/FILL streams into two banks
@                                        whose controllers work on their own
@                                        (H7): each lane is [dst src len unit
@                                        mode spec] (mode: access width in
@                                        bytes, +0x100 for FILL, src then being
@                                        the value). A unit is stored into a
@                                        lane only when its bank is idle (its
@                                        errors checked first), so each bank
@                                        programs while the other is fed and
@                                        no write ever waits on a full queue;
@                                        then the last unit of each is waited
@                                        for. dst, src and len are advanced in
@                                        the script as the lanes go.
@
@ Register use: r4 current flash address (PROGRAM, FILL), r5 script
@ position, r6 header, r7 source pointer, r8 parameter block, r9 slot count,
@ r10 slot index, r11 bytes left (PROGRAM, FILL), r12 operand pointer
@ across a wait (PROGRAM, FILL).

        .syntax unified
        .cpu    cortex-m0
        .thumb
        .text
        .align  2

        .equ    FLAG_DONE,  0x454E4F44      @ "DONE"
        .equ    FLAG_FAIL,  0x4C494146      @ "FAIL"

        .global stream_start
        .thumb_func
stream_start:
        adr     r0, params
        mov     r8, r0
        ldr     r1, [r0, #4]
        mov     sp, r1
        ldr     r1, [r0, #12]
        mov     r9, r1
        movs    r0, #0
        mov     r10, r0

next_slot:
        mov     r0, r10
        lsls    r0, r0, #2
        adds    r0, #24
        mov     r1, r8
        ldr     r6, [r1, r0]
wait_ready:
        ldr     r0, [r6, #20]
        mov     r1, r8
        ldr     r1, [r1, #0]
        cmp     r0, r1
        bne     wait_ready
        ldr     r5, [r6, #0]

op_loop:
        ldm     r5!, {r0}
        cmp     r0, #12
        bhi     op_unknown
        lsls    r0, r0, #1
        adr     r1, op_table
        ldrh    r0, [r1, r0]
        adds    r0, r0, r1
        bx      r0

        .align  2
op_table:
        .hword  op_end - op_table + 1
        .hword  op_write - op_table + 1
        .hword  op_wait - op_table + 1
        .hword  op_program - op_table + 1
        .hword  op_read - op_table + 1
        .hword  op_feed - op_table + 1
        .hword  stop - op_table + 1
        .hword  op_orr - op_table + 1
        .hword  op_fill - op_table + 1
        .hword  op_h7crc - op_table + 1
        .hword  op_swcrc - op_table + 1
        .hword  op_crc32 - op_table + 1
        .hword  op_pair - op_table + 1

@ Unknown op: fail with the op code as status, address all ones.
op_unknown:
        movs    r4, #0
        mvns    r4, r4
        b       fail

op_write:
        ldm     r5!, {r0, r1}
        str     r1, [r0]
        dsb
        b       op_loop

op_orr:
        ldm     r5!, {r0, r1}
        ldr     r2, [r0]
        orrs    r2, r1
        str     r2, [r0]
        dsb
        ldr     r2, [r0]
        b       op_loop

op_wait:
        movs    r4, #0
        ldm     r5!, {r3}
        bl      wait_status
        b       op_loop

@ H7 flash CRC unit registers (RM0433 §4, RM0455 §4, RM0468 §4): SR 0x10, CCR 0x14,
@ CRCCR 0x50, CRCSADD 0x54, CRCEADD 0x58, CRCDATA 0x5C.
op_h7crc:
        ldm     r5!, {r0, r1, r2}
        movs    r3, #2
        lsls    r3, r3, #16             @ CRCCR.CLEAN_CRC (bit 17)
        str     r3, [r0, #0x50]
        str     r1, [r0, #0x54]
        str     r2, [r0, #0x58]
        lsrs    r3, r3, #1              @ CRCCR.START_CRC (bit 16)
        str     r3, [r0, #0x50]
        dsb
        movs    r2, #8                  @ SR.CRC_BUSY (bit 3)
1:      ldr     r3, [r0, #0x10]
        tst     r3, r2
        bne     1b
        movs    r1, #1
        lsls    r1, r1, #28             @ SR.CRCRDERR (bit 28)
        tst     r3, r1
        beq     2f
        mov     r4, r0
        mov     r0, r3
        b       fail
2:      lsrs    r1, r1, #1              @ CCR.CLR_CRCEND (bit 27)
        str     r1, [r0, #0x14]
        ldr     r0, [r0, #0x5C]
        ldr     r1, [r6, #4]
        stm     r1!, {r0}
        str     r1, [r6, #4]
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

@ PROGRAM and FILL share the operand layout; r3 -> operands.
op_program:
        mov     r3, r5
        adds    r5, #24
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
        mov     r12, r3
        ldr     r3, [r3, #20]
        bl      wait_status
        mov     r3, r12
        b       prog_unit

op_fill:
        mov     r3, r5
        adds    r5, #24
        ldr     r4, [r3, #0]
        ldr     r0, [r3, #8]
        mov     r11, r0
fill_unit:
        mov     r0, r11
        cmp     r0, #0
        bne     1f
        b       op_loop
1:
        ldr     r2, [r3, #12]
        subs    r0, r0, r2
        mov     r11, r0
        ldr     r1, [r3, #16]
        ldr     r0, [r3, #4]
        cmp     r1, #4
        beq     fill_word
        cmp     r1, #2
        beq     fill_half
fill_byte:
        strb    r0, [r4]
        adds    r4, #1
        subs    r2, #1
        bne     fill_byte
        b       fill_done
fill_half:
        strh    r0, [r4]
        adds    r4, #2
        subs    r2, #2
        bne     fill_half
        b       fill_done
fill_word:
        str     r0, [r4]
        adds    r4, #4
        subs    r2, #4
        bne     fill_word
fill_done:
        dsb
        mov     r12, r3
        ldr     r3, [r3, #20]
        bl      wait_status
        mov     r3, r12
        b       fill_unit

@ One lane of PAIR (r3 -> lane A; \o = 0 for lane A, 24 for lane B): when
@ it has units left, count it in r11; when its bank is idle, check the
@ bank's errors, clear its end-of-operation flag and store its next unit.
@ Branches go forward only: a round in which neither lane stores is one
@ backward branch through unchanged registers (an idle wait).
        .macro  pair_lane o
        ldr     r0, [r3, #(8 + \o)]
        cmp     r0, #0
        beq     .Lpl_end\@
        mov     r0, r11
        adds    r0, #1
        mov     r11, r0
        ldr     r2, [r3, #(20 + \o)]
        ldr     r1, [r2, #0]
        ldr     r1, [r1]
        ldr     r0, [r2, #4]
        tst     r1, r0
        bne     .Lpl_end\@
        ldr     r0, [r2, #8]
        tst     r1, r0
        beq     .Lpl_ok\@
        mov     r0, r1
        ldr     r4, [r3, #(0 + \o)]
        b       fail
.Lpl_ok\@:
        ldr     r0, [r2, #16]
        ands    r0, r1
        beq     .Lpl_store\@
        ldr     r1, [r2, #12]
        str     r0, [r1]
.Lpl_store\@:
        ldr     r4, [r3, #(0 + \o)]
        ldr     r7, [r3, #(4 + \o)]
        ldr     r2, [r3, #(12 + \o)]
        ldr     r0, [r3, #(8 + \o)]
        subs    r0, r0, r2
        str     r0, [r3, #(8 + \o)]
        ldr     r1, [r3, #(16 + \o)]
        bl      store_unit
        str     r4, [r3, #(0 + \o)]
        str     r7, [r3, #(4 + \o)]
.Lpl_end\@:
        .endm

op_pair:
        mov     r3, r5
        adds    r5, #48
pair_round:
        movs    r0, #0
        mov     r11, r0
        pair_lane 0
        pair_lane 24
        mov     r0, r11
        cmp     r0, #0
        bne     pair_round
        mov     r12, r3
        ldr     r4, [r3, #0]
        ldr     r3, [r3, #20]
        bl      wait_status
        mov     r3, r12
        ldr     r4, [r3, #24]
        ldr     r3, [r3, #44]
        bl      wait_status
        b       op_loop

@ Store one unit: r4 destination, r7 source (the value for FILL), r2 bytes,
@ r1 mode (access width in bytes, +0x100 for FILL). Returns with r4 (and,
@ but for FILL, r7) past the unit, after a DSB; r0-r2 clobbered.
store_unit:
        lsrs    r0, r1, #8
        bne     su_fill
        cmp     r1, #4
        beq     su_word
        cmp     r1, #2
        beq     su_half
su_byte:
        ldrb    r0, [r7]
        strb    r0, [r4]
        adds    r7, #1
        adds    r4, #1
        subs    r2, #1
        bne     su_byte
        b       su_done
su_half:
        ldrh    r0, [r7]
        strh    r0, [r4]
        adds    r7, #2
        adds    r4, #2
        subs    r2, #2
        bne     su_half
        b       su_done
su_word:
        ldr     r0, [r7]
        str     r0, [r4]
        adds    r7, #4
        adds    r4, #4
        subs    r2, #4
        bne     su_word
        b       su_done
su_fill:
        uxtb    r1, r1
        cmp     r1, #4
        beq     sf_word
        cmp     r1, #2
        beq     sf_half
sf_byte:
        strb    r7, [r4]
        adds    r4, #1
        subs    r2, #1
        bne     sf_byte
        b       su_done
sf_half:
        strh    r7, [r4]
        adds    r4, #2
        subs    r2, #2
        bne     sf_half
        b       su_done
sf_word:
        str     r7, [r4]
        adds    r4, #4
        subs    r2, #4
        bne     sf_word
su_done:
        dsb
        bx      lr

op_end:
        dsb
        ldr     r0, =FLAG_DONE
        str     r0, [r6, #20]
        bl      count_buffer
        mov     r0, r10
        adds    r0, #1
        cmp     r0, r9
        bne     1f
        movs    r0, #0
1:      mov     r10, r0
        b       next_slot

@ progress += 1 (r0, r1 clobbered).
count_buffer:
        mov     r1, r8
        ldr     r1, [r1, #8]
        ldr     r0, [r1]
        adds    r0, #1
        str     r0, [r1]
        bx      lr

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
        mov     r1, r8
        ldr     r1, [r1, #8]
        ldr     r0, [r1]
        movs    r2, #1
        lsls    r2, r2, #31
        orrs    r0, r2
        str     r0, [r1]
        b       halt

stop:
        ldr     r0, =FLAG_DONE
        str     r0, [r6, #20]
        bl      count_buffer
@ Halt; if resumed anyway (a debugger letting the core run before a reset),
@ stay here rather than run into the literal pool.
halt:
        bkpt    #0
        b       halt

@ The first SWCRC of a run builds the table: entry i is the register after
@ eight zero bits from i << 24 (about 40 instructions per entry). Then r0
@ source, r1 words left, r2 CRC, r3 table, r4 scratch: 24 instructions per
@ word (6 per byte).
op_swcrc:
        mov     r0, r8
        ldr     r3, [r0, #16]           @ table
        ldr     r1, [r0, #20]
        cmp     r1, #1
        beq     4f
        movs    r1, #1
        str     r1, [r0, #20]           @ this table is built (for the rest of this run)
        ldr     r7, =0x04C11DB7
        movs    r0, #0                  @ entry
1:      lsls    r2, r0, #24
        movs    r1, #8
2:      lsls    r2, r2, #1
        bcc     3f
        eors    r2, r7
3:      subs    r1, #1
        bne     2b
        lsls    r4, r0, #2
        str     r2, [r3, r4]
        adds    r0, #1
        lsrs    r4, r0, #8
        beq     1b
4:      ldm     r5!, {r0, r1}
        movs    r2, #0
        mvns    r2, r2                  @ initial value 0xFFFFFFFF
        cmp     r1, #0
        beq     6f
5:      ldm     r0!, {r4}
        eors    r2, r4
        .rept   4
        lsrs    r4, r2, #24             @ top byte selects the entry
        lsls    r4, r4, #2
        ldr     r4, [r3, r4]
        lsls    r2, r2, #8
        eors    r2, r4
        .endr
        subs    r1, #1
        bne     5b
6:      ldr     r1, [r6, #4]
        stm     r1!, {r2}
        str     r1, [r6, #4]
        b       op_loop

@ CRC32 shares the table area with SWCRC: the first CRC32 after a SWCRC (or
@ at the start of a run) builds the reflected table: entry i is the register
@ after eight zero bits from i, shifting right (polynomial 0xEDB88320). Then
@ r0 source, r1 words left, r2 register (from the init operand), r3 table,
@ r4 scratch: the low byte selects the entry, 24 instructions per word.
op_crc32:
        mov     r0, r8
        ldr     r3, [r0, #16]           @ table
        ldr     r1, [r0, #20]
        cmp     r1, #2
        beq     4f
        movs    r1, #2
        str     r1, [r0, #20]           @ this table is built
        ldr     r7, =0xEDB88320
        movs    r0, #0                  @ entry
1:      movs    r2, r0
        movs    r1, #8
2:      lsrs    r2, r2, #1
        bcc     3f
        eors    r2, r7
3:      subs    r1, #1
        bne     2b
        lsls    r4, r0, #2
        str     r2, [r3, r4]
        adds    r0, #1
        lsrs    r4, r0, #8
        beq     1b
4:      ldm     r5!, {r0, r1, r2}
        cmp     r1, #0
        beq     6f
5:      ldm     r0!, {r4}
        eors    r2, r4
        .rept   4
        uxtb    r4, r2                  @ low byte selects the entry
        lsls    r4, r4, #2
        ldr     r4, [r3, r4]
        lsrs    r2, r2, #8
        eors    r2, r4
        .endr
        subs    r1, #1
        bne     5b
6:      ldr     r1, [r6, #4]
        stm     r1!, {r2}
        str     r1, [r6, #4]
        b       op_loop

        .align  2
        .ltorg
        .align  2
params:
