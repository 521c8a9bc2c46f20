from archiver._launch import main

main()
