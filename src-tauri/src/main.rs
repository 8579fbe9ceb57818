fn main() {
    latchkey_desktop::run()
}
