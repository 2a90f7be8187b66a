module readside.local/pause

go 1.22
